"""Export for serving: a trained classifier -> a TF Serving model version.

`export_for_serving` writes the SavedModel (inference graph only, four
signatures, warmup requests) into an integer version folder; `serving/` at
the repository root has the server configuration and a client.
"""

from keras_quadreg.export._signatures import SIGNATURES
from keras_quadreg.export._versions import next_version, versions
from keras_quadreg.export.serving import export_for_serving

__all__ = ["SIGNATURES", "export_for_serving", "next_version", "versions"]

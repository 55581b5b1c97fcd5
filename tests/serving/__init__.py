"""Serving tests, in two places:

- tests/export/test_serving.py: the library side, `kq.export_for_serving`:
  the SavedModel's signatures against the Keras model (in a fresh process),
  warmup requests, malformed requests failing cleanly, versions and atomic
  writes. It needs only TensorFlow.
- tests/serving/: the deployment side, the files in serving/: the configs
  parse as TF Serving reads them (test_configs.py), the client builds and
  reads requests (test_client.py, against in-process stand-ins), and end to
  end against a real `tensorflow_model_server` when one is on PATH
  (test_model_server.py; skipped with the reason otherwise).
"""

import re

import pytest

import keras_quadreg as kq


@pytest.mark.parametrize(
    "name, cls",
    [
        ("fgsm", kq.attacks.FGSM),
        ("FGM", kq.attacks.FGSM),
        ("bim", kq.attacks.BIM),
        ("pgd", kq.attacks.PGD),
        ("mim", kq.attacks.MIM),
        ("cw", kq.attacks.CarliniWagnerL2),
        ("Carlini-Wagner", kq.attacks.CarliniWagnerL2),
        ("spsa", kq.attacks.SPSA),
        ("autoattack", kq.attacks.AutoAttack),
        ("apgd_ce", kq.attacks.APGDCE),
        ("APGD-DLR", kq.attacks.APGDDLR),
        ("APGD-T", kq.attacks.APGDT),
        ("square", kq.attacks.Square),
        ("fab_t", kq.attacks.FABT),
        ("PGD", kq.attacks.PGD),
        ("CarliniWagnerL2", kq.attacks.CarliniWagnerL2),
    ],
)
def test_names_and_classes_resolve_to_the_same_attack(name, cls):
    by_name = kq.attacks.get(name)
    assert type(by_name) is cls
    assert by_name == kq.attacks.get(cls)
    assert by_name.name == cls.registered_name


def test_names():
    assert kq.attacks.names() == [
        "apgd_ce",
        "apgd_dlr",
        "apgd_t",
        "autoattack",
        "bim",
        "cw",
        "fab_t",
        "fgsm",
        "mim",
        "pgd",
        "spsa",
        "square",
    ]


def test_configured_objects_and_configs_round_trip():
    pgd = kq.attacks.get("pgd", steps=40, restarts=5, name="pgd40")
    assert kq.attacks.get(pgd) is pgd
    assert pgd.name == "pgd40" and pgd.relative_step_size == 2.5 / 40
    assert kq.attacks.deserialize(kq.attacks.serialize(pgd)) == pgd
    assert kq.attacks.get(kq.attacks.serialize(pgd)) == pgd


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.attacks.get("deepfool"),
            "Unknown attack. Expected one of ['apgd_ce', 'apgd_dlr', 'apgd_t', 'autoattack', "
            "'bim', 'cw', 'fab_t', 'fgsm', 'mim', 'pgd', 'spsa', 'square']. "
            "Received: attack='deepfool'",
        ),
        (
            lambda: kq.attacks.get(kq.attacks.PGD(), steps=3),
            "Constructor arguments go with an attack name or class.",
        ),
        (
            lambda: kq.attacks.get("pgd", stepz=3),
            "Could not build PGD: PGD.__init__() got an unexpected keyword argument 'stepz'. "
            "Received: kwargs={'stepz': 3}",
        ),
        (
            lambda: kq.attacks.get(3),
            "Expected an Attack, an Attack subclass, an attack name or a serialized config. "
            "Received: attack=3",
        ),
        (
            lambda: kq.attacks.PGD(steps=0),
            "Expected `steps` to be an integer >= 1. Received: steps=0",
        ),
        (
            lambda: kq.attacks.PGD(relative_step_size=1.5),
            "Expected `relative_step_size` (the step as a fraction of epsilon) to be in (0, 1]. "
            "Received: relative_step_size=1.5",
        ),
        (
            lambda: kq.attacks.PGD(random_start=1),
            "Expected `random_start` to be a bool. Received: random_start=1",
        ),
        (
            lambda: kq.attacks.SPSA(samples=5),
            "Expected `samples` to be even (perturbations come in +-delta pairs). Received: "
            "samples=5",
        ),
        (
            lambda: kq.attacks.CarliniWagnerL2(learning_rate=0),
            "Expected `learning_rate` to be a finite positive number. Received: learning_rate=0",
        ),
        (
            lambda: kq.attacks.AutoAttack(components=["apgd_ce", "fab"]),
            "Expected `components` to be distinct names from ['apgd_ce', 'apgd_t', 'fab_t', "
            "'square'] (version='standard'). Received: components=('apgd_ce', 'fab')",
        ),
        (
            lambda: kq.attacks.AutoAttack(components=["apgd_dlr"]),
            "Expected `components` to be distinct names from ['apgd_ce', 'apgd_t', 'fab_t', "
            "'square'] (version='standard'). Received: components=('apgd_dlr',)",
        ),
        (
            lambda: kq.attacks.AutoAttack(version="rand", components=["apgd_ce", "square"]),
            "Expected `components` to be distinct names from ['apgd_ce', 'apgd_dlr'] "
            "(version='rand'). Received: components=('apgd_ce', 'square')",
        ),
        (
            lambda: kq.attacks.AutoAttack(backend="torch"),
            "Expected `backend` to be one of ['art', 'native']. Received: backend='torch'",
        ),
        (
            lambda: kq.attacks.AutoAttack(version="plus"),
            "Expected `version` to be one of ['standard', 'rand']. Received: version='plus'",
        ),
        (
            lambda: kq.attacks.AutoAttack(version="rand", backend="art"),
            "AutoAttack(backend='art') runs the standard version only; version='rand' runs "
            "natively. Received: version='rand', backend='art'",
        ),
        (
            lambda: kq.attacks.MIM(decay=-1.0),
            "Expected `decay` to be a finite non-negative number. Received: decay=-1.0",
        ),
    ],
)
def test_bad_arguments_are_rejected_up_front(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_art_autoattack_names_deepfool_as_its_component():
    pytest.importorskip("art", reason="backend='art' needs the [autoattack] extra")
    assert kq.attacks.AutoAttack(backend="art").components == (
        "apgd_ce",
        "apgd_t",
        "deepfool",
        "square",
    )
    with pytest.raises(ValueError) as error:
        kq.attacks.AutoAttack(components=["apgd_ce", "fab_t"], backend="art")
    assert str(error.value) == (
        "Expected `components` to be distinct names from ['apgd_ce', 'apgd_t', 'deepfool', "
        "'square'] (version='standard', backend='art'). "
        "Received: components=('apgd_ce', 'fab_t')"
    )
    # DeepFool is untargeted: unlike FAB-T, it runs on two classes.
    kq.attacks.AutoAttack(components=["apgd_ce", "deepfool"], backend="art").check_classes(2)
    with pytest.raises(ValueError) as error:
        kq.attacks.AutoAttack(backend="art").check_classes(3)
    assert str(error.value) == (
        "AutoAttack cannot run 'apgd_t' on a model with 3 classes: 'apgd_t' needs at least 10 "
        "(4 for its targeted DLR loss, target_classes + 1 = 10 for its targets). Leave it out, "
        "e.g. AutoAttack(backend='art', components=['apgd_ce', 'deepfool', 'square']). "
        "Received: a model with 3 classes, components=['apgd_ce', 'apgd_t', 'deepfool', "
        "'square'], target_classes=9"
    )


def test_autoattack_components_run_in_the_standard_order():
    attack = kq.attacks.AutoAttack(components=["square", "apgd_ce"])
    assert attack.components == ("apgd_ce", "square")
    assert kq.attacks.get("autoattack", version="rand").components == ("apgd_ce", "apgd_dlr")


@pytest.mark.parametrize(
    "attack",
    [
        kq.attacks.APGDCE(steps=7, restarts=2),
        kq.attacks.APGDT(target_classes=3, jit_compile=True),
        kq.attacks.FABT(steps=5),
        kq.attacks.Square(queries=10, p_init=0.5),
        kq.attacks.APGDDLR(eot_samples=20),
        kq.attacks.AutoAttack(backend="native", steps=10),
        kq.attacks.AutoAttack(version="rand", components=["apgd_dlr"]),
    ],
)
def test_native_attacks_round_trip_through_their_configs(attack):
    assert kq.attacks.deserialize(kq.attacks.serialize(attack)) == attack

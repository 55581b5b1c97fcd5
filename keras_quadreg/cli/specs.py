"""`name:key=value,...` specifications of methods and attacks on the command line."""


def parse(spec):
    """`"pgd:steps=40,restarts=5"` -> `("pgd", {"steps": 40, "restarts": 5})`.

    Values are parsed as int, float, bool (`true`/`false`), `none`, or kept as
    text; `-` in keys becomes `_`. `+` joins the values of a list:
    `autoattack:components=apgd_ce+square` -> `{"components": ["apgd_ce", "square"]}`
    (a number such as `1e+3` stays a number).
    """
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"Expected options as key=value pairs, e.g. pgd:steps=40. Received: {spec!r}"
            )
        options[key.strip().replace("-", "_")] = _value(value.strip(), item)
    return name.strip(), options


def _value(text, item):
    value = _scalar(text)
    if not (isinstance(value, str) and "+" in value):
        return value
    values = [part.strip() for part in value.split("+")]
    if not all(values):
        raise ValueError(
            "Expected a list as values joined by +, none empty, e.g. "
            f"autoattack:components=apgd_ce+square. Received: {item!r}"
        )
    return [_scalar(part) for part in values]


def _scalar(text):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text

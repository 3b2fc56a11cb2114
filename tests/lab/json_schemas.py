"""The tools' JSON schemas (schemas/, kvmdci-json(7)) and a check of documents against them.

Every lab test (e2e.py) sets KVMDCI_JSON_LOG: the tools append a copy of each JSON document they
print ("TOOL<TAB>JSON" per line), and finish() checks every line here against the schema of the
tool that printed it. A catalog printed by `kvmdci-catalog list --json` is also checked against
the catalog's own schema (catalog/catalog.schema.json)."""

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATALOG_SCHEMA = os.path.join(ROOT, "catalog", "catalog.schema.json")
URN = "urn:libkvmdci:schema:1:"


def schema_dir():
    """The source tree's schemas/, or KVMDCI_SCHEMAS (an installed copy)."""
    return os.environ.get("KVMDCI_SCHEMAS") or os.path.join(ROOT, "schemas")


def load():
    """{tool: schema} of every *.schema.json in schema_dir() ("common" included)."""
    out, d = {}, schema_dir()
    for name in sorted(os.listdir(d)):
        if name.endswith(".schema.json"):
            with open(os.path.join(d, name)) as f:
                out[name[:-len(".schema.json")]] = json.load(f)
    return out


class Checker:
    """Validators for every tool, with the shared definitions resolvable by their URN."""

    def __init__(self):
        import jsonschema  # python3-jsonschema (scripts/install-deps.sh)
        self.schemas = load()
        cls = jsonschema.Draft202012Validator
        for s in self.schemas.values():
            cls.check_schema(s)
        try:  # jsonschema >= 4.18 resolves references through a registry
            from referencing import Registry, Resource
            reg = Registry().with_resources(
                (s["$id"], Resource.from_contents(s)) for s in self.schemas.values())
            self.validators = {t: cls(s, registry=reg) for t, s in self.schemas.items()}
        except ImportError:  # Debian 12's 4.10
            store = {s["$id"]: s for s in self.schemas.values()}
            self.validators = {t: cls(s, resolver=jsonschema.RefResolver(s["$id"], s, store=store))
                               for t, s in self.schemas.items()}
        with open(CATALOG_SCHEMA) as f:
            self.catalog = cls(json.load(f))

    def errors(self, tool, doc):
        """What is wrong with @doc as @tool's output: a list of short strings, empty when it
        matches the tool's schema."""
        v = self.validators.get(tool)
        if v is None:
            return [f"no schema for {tool} (schemas/{tool}.schema.json)"]
        if isinstance(doc, dict) and list(doc)[:1] != ["format"]:
            return [f"\"format\" is not the first member: {list(doc)[:3]}"]
        errs = []
        for e in v.iter_errors(doc):
            # anyOf over the tool's documents: name the deepest failure of the best branch
            best = max(e.context, key=lambda c: len(c.absolute_path), default=e) \
                if e.validator == "anyOf" else e
            errs.append(f"{'/'.join(map(str, best.absolute_path)) or '(top)'}: {best.message[:200]}")
        if tool == "kvmdci-catalog" and isinstance(doc, dict) and "kernel" not in doc \
                and "entries" in doc:
            errs += [f"catalog: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                     for e in self.catalog.iter_errors(doc)]
        return errs


def check_log(path):
    """(documents, {tool: count}, [problems]) of a KVMDCI_JSON_LOG file."""
    checker = Checker()
    docs, tools, bad = 0, {}, []
    if not os.path.exists(path):
        return 0, tools, bad
    with open(path) as f:
        for n, line in enumerate(f, 1):
            tool, _, text = line.rstrip("\n").partition("\t")
            docs += 1
            tools[tool] = tools.get(tool, 0) + 1
            try:
                doc = json.loads(text)
            except ValueError as e:
                bad.append(f"line {n} ({tool}): not JSON: {e}")
                continue
            for e in checker.errors(tool, doc):
                bad.append(f"line {n} ({tool}): {e}")
    return docs, tools, bad

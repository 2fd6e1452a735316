"""
docs/API.md is kept in step with proto/openapi.json: the routes it lists
(the table under "## Routes" and the "### METHOD /path" sections) are the
routes of the OpenAPI document, no more and no fewer. README.md and
HACKING.md point only at files of this repository. No daemon is started.
"""
import glob
import json
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        return fh.read()


def openapi_routes():
    """{(METHOD, path)} of proto/openapi.json."""
    doc = json.loads(read("proto/openapi.json"))
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def table_routes(text):
    """{(METHOD, path)} of the table in the "## Routes" section."""
    section = text.split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|", section, re.M)
    return set(rows)


def section_routes(text):
    """{(METHOD, path)} of the "### METHOD /path" headings."""
    return set(re.findall(r"^### ([A-Z]+) (/\S*)\s*$", text, re.M))


class DocsTest(unittest.TestCase):
    def setUp(self):
        self.doc = read("docs/API.md")
        self.api = openapi_routes()

    def test_openapi_has_routes(self):
        self.assertGreaterEqual(len(self.api), 17)

    def test_route_table_matches_openapi(self):
        table = table_routes(self.doc)
        self.assertEqual(sorted(table - self.api), [],
                         "listed in docs/API.md, not in proto/openapi.json")
        self.assertEqual(sorted(self.api - table), [],
                         "in proto/openapi.json, missing from docs/API.md's route table")

    def test_sections_match_openapi(self):
        sections = section_routes(self.doc)
        self.assertEqual(sorted(sections - self.api), [],
                         "a section of docs/API.md names a route proto/openapi.json lacks")
        self.assertEqual(sorted(self.api - sections), [],
                         "a route of proto/openapi.json has no section in docs/API.md")

    def test_parsers_see_a_difference(self):
        # The comparison is only worth something if a change shows.
        doc = self.doc.replace("| GET    | `/v1/time`", "| GET    | `/v1/clock`")
        self.assertIn(("GET", "/v1/clock"), table_routes(doc))
        self.assertNotIn(("GET", "/v1/time"), table_routes(doc))
        doc = self.doc.replace("### POST /v1/gather", "### POST /v1/gather2")
        self.assertIn(("POST", "/v1/gather2"), section_routes(doc))

    def test_readme_and_hacking_point_inside(self):
        for name in ("README.md", "HACKING.md"):
            text = read(name)
            self.assertNotIn("../", text, name + " points outside the repository")
            for ref in re.findall(r"`((?:docs|proto|etc|man|tests|scripts)/[^`\s]+)`", text):
                path = ref.split("#")[0]
                if any(c in path for c in "*{<"):
                    continue
                # A module may be named without its extension (proto/jsonbuf).
                self.assertTrue(glob.glob(os.path.join(ROOT, path) + "*"),
                                "%s names %s, which does not exist" % (name, ref))


if __name__ == "__main__":
    unittest.main()

"""Sphinx extension: render recorded benchmark tables at build time from fr_course.results.

Usage in a MyST page::

    ```{fr-results-table} table1
    ```

    ```{fr-results-table} table1
    :results: benchmarks/results/full_profile_table1.json
    ```

    ```{fr-results-table} loss-heads
    ```

The table is produced by the same code chapter 11 uses, from the results file on disk when the book
is built, so the page can never show numbers that no file records. The results file (if present)
is registered as a dependency: editing it rebuilds the page.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from fr_course import results

# Table name -> (function(path) returning MyST Markdown, the results file it reads by default).
TABLES = {
    "table1": (results.table1_markdown, results.DEFAULT_FULL_PROFILE_RESULTS),
    "loss-heads": (results.loss_heads_markdown, results.LOSS_HEADS_RESULTS),
}


class ResultsTable(SphinxDirective):
    required_arguments = 1
    has_content = False
    option_spec = {"results": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        if name not in TABLES:
            raise self.error(f"unknown results table {name!r}; known: {', '.join(TABLES)}")
        render, default = TABLES[name]
        path = results.resolve_results_path(self.options.get("results") or default)
        if path.is_file():
            self.env.note_dependency(str(path))
        try:
            markdown = render(path)
        except (results.ResultsFileError, OSError) as error:
            raise self.error(f"cannot render results table {name!r}: {error}")
        container = nodes.container(classes=["fr-results-table"])
        self.state.nested_parse(StringList(markdown.splitlines(), source=str(path)), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("fr-results-table", ResultsTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

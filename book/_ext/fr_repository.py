"""Sphinx extension: the repository URL on the book's pages, read from its one place.

``_config.yml``'s ``repository.url`` is the only place the URL is written (the launch buttons and
the Colab setup cell of every notebook read it there). This extension makes it available to the
Markdown pages too, through :func:`fr_course.notebooks.book.repository_url`:

* the MyST substitutions ``{{ repository_url }}`` (the URL as text) and ``{{ repository_link }}``
  (the URL as a link), for prose;
* the directive ``fr-repository-code``, a code block in which ``{repository_url}`` is replaced by
  the URL (MyST substitutions are not applied inside code blocks)::

      ```{fr-repository-code} bash
      git clone {repository_url} fr-course
      ```
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from fr_course.notebooks import book

PLACEHOLDER = "{repository_url}"


def _url(app) -> str:
    return book.repository_url(book.find_root(app.srcdir))


class RepositoryCode(SphinxDirective):
    optional_arguments = 1
    has_content = True

    def run(self):
        url = _url(self.env.app)
        text = "\n".join(self.content).replace(PLACEHOLDER, url)
        block = nodes.literal_block(text, text)
        block["language"] = self.arguments[0] if self.arguments else "text"
        self.set_source_info(block)
        return [block]


def _add_substitutions(app, config):
    url = _url(app)
    substitutions = dict(getattr(config, "myst_substitutions", None) or {})
    substitutions.setdefault("repository_url", url)
    substitutions.setdefault("repository_link", f"<{url}>")
    config.myst_substitutions = substitutions


def setup(app):
    app.connect("config-inited", _add_substitutions)
    app.add_directive("fr-repository-code", RepositoryCode)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

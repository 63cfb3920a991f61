"""Sphinx extension: emit each ``<script>`` of a page once.

With this book's stack (Sphinx 7.4, sphinx-thebe 0.3, sphinx-togglebutton) some inline scripts are
registered twice (once with the file name ``None``, once with ``""``), so every page declared
``const THEBE_JS_URL`` twice and the browser raised "Identifier 'THEBE_JS_URL' has already been
declared". Dropping exact duplicates (same file, same attributes, same inline body) changes nothing
else on the page.
"""

from __future__ import annotations


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", None)
        if not isinstance(attributes, dict):  # a plain string from an old-style extension: keep it
            unique.append(script)
            continue
        # An inline script is registered once with filename None and once with "": the same script.
        key = (script.filename or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # Late priority: run after the extensions that add scripts while the page context is built.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

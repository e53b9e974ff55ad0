"""Local Sphinx extension of caffi's documentation.

Two directives:

``.. argparse-help:: module:function``
    Calls the function (e.g. ``caffi.cli:build_parser``), which must return an
    ``argparse.ArgumentParser``, and renders ``format_help()`` of the parser and of each of its
    subcommands, in the order they were added, as literal blocks under one section per
    subcommand. The page is made at build time, so it cannot drift from the parser.

``.. figure-if-present:: path``
    A ``figure`` directive (same options and caption) when ``path`` (relative to the document,
    as for ``figure``) exists, else nothing and no warning: for figures that a benchmark run
    produces and that a checkout may not have yet.

And an ``autodoc-process-docstring`` hook, :func:`plain_docstring`, that reads caffi's
docstrings as the plain text they are written as, where it is not valid reStructuredText
(the docstrings themselves are left alone):

* ``TIME_`` (a request-type prefix) would be a hyperlink reference to a target "TIME": the
  trailing underscore of such upper-case words is escaped;
* a two-column listing (````name````, spaces, text, continuation lines indented to the text) is
  a definition list;
* a paragraph that ends with one colon before an indented block introduces code: ``::``;
* a class's signature written out in its docstring (``Monitor(chid, ...)``) is dropped where
  the page gives it to the directive.
"""
import argparse
import contextlib
import importlib
import os
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.parsers.rst.directives.images import Figure

HELP_COLUMNS = 88       # argparse wraps to $COLUMNS; fixed so that the page does not depend on it


@contextlib.contextmanager
def _columns(width):
    saved = os.environ.get('COLUMNS')
    os.environ['COLUMNS'] = str(width)
    try:
        yield
    finally:
        if saved is None:
            del os.environ['COLUMNS']
        else:
            os.environ['COLUMNS'] = saved


def subcommands(parser):
    """(name, subparser) of every subcommand of *parser*, in the order they were added."""
    for action in parser._actions:          # argparse has no public accessor for these
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:     # aliases map to the same parser
                    seen.add(id(sub))
                    yield name, sub


def load_parser(spec):
    module, _, function = spec.partition(':')
    return getattr(importlib.import_module(module), function)()


def help_texts(parser):
    """[(title, help text)]: the parser's own help, then each subcommand's."""
    with _columns(HELP_COLUMNS):
        texts = [(parser.prog, parser.format_help())]
        texts += [(sub.prog, sub.format_help()) for _, sub in subcommands(parser)]
    return texts


class ArgparseHelp(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        spec = self.arguments[0]
        try:
            parser = load_parser(spec)
        except Exception as exc:             # a broken parser must fail the -W build loudly
            raise self.error('argparse-help: %s() failed: %r' % (spec, exc))
        env.note_dependency(importlib.import_module(spec.partition(':')[0]).__file__)
        result = []
        for title, text in help_texts(parser):
            section = nodes.section(ids=[nodes.make_id('cli ' + title)])
            section += nodes.title(text=title)
            block = nodes.literal_block(text, text)
            block['language'] = 'text'
            section += block
            result.append(section)
        return result


class FigureIfPresent(Directive):
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = Figure.option_spec

    def run(self):
        env = self.state.document.settings.env
        _, path = env.relfn2path(self.arguments[0], env.docname)
        env.note_dependency(path)           # a missing dependency re-reads the page next time
        if not os.path.isfile(path):
            return []
        figure = Figure(self.name, self.arguments, self.options, self.content, self.lineno,
                        self.content_offset, self.block_text, self.state, self.state_machine)
        return figure.run()


_PREFIX = re.compile(r'\b([A-Z][A-Z0-9]*)_(?=[\s,.;:)]|$)')
_COLUMN = re.compile(r'^(``\w+``)( {2,})(\S.*)$')


def _drop_signature(lines, cls_name):
    """*lines* without the indented ``cls_name(...)`` block (up to its closing parenthesis)."""
    out, depth = [], 0
    for line in lines:
        if depth == 0 and line.strip().startswith(cls_name + '('):
            depth = line.count('(') - line.count(')')
            if depth <= 0:
                depth = 0
            else:
                continue
            continue
        if depth > 0:
            depth += line.count('(') - line.count(')')
            continue
        out.append(line)
    return out


def _indent(line):
    return len(line) - len(line.lstrip())


def plain_docstring(app, what, name, obj, options, lines):
    if not name.startswith('caffi.'):
        return
    if what == 'class':
        lines[:] = _drop_signature(lines, name.rpartition('.')[2])
    out = []
    indent = None            # the text column of a two-column listing being converted
    for i, line in enumerate(lines):
        column = _COLUMN.match(line)
        if column:
            indent = len(column.group(1)) + len(column.group(2))
            out += [column.group(1), '   ' + column.group(3)]
            continue
        if indent is not None and line[:indent].strip() == '' and line.strip():
            out.append('   ' + line.strip())
            continue
        indent = None
        if (line.rstrip().endswith(':') and not line.rstrip().endswith('::')
                and i + 2 < len(lines) and not lines[i + 1].strip()
                and lines[i + 2].strip() and _indent(lines[i + 2]) > _indent(line)):
            line = line.rstrip() + ':'
        out.append(line if line.lstrip().startswith('>>>') else _PREFIX.sub(r'\1\\_', line))
    lines[:] = out


def setup(app):
    app.setup_extension('sphinx.ext.autodoc')     # for its autodoc-process-docstring event
    app.connect('autodoc-process-docstring', plain_docstring)
    app.add_directive('argparse-help', ArgparseHelp)
    app.add_directive('figure-if-present', FigureIfPresent)
    return {'version': '1', 'parallel_read_safe': True, 'parallel_write_safe': True}

"""Write README.md from nbs/index.ipynb (Quarto, and so `nbdev-readme`, is not installable here).

Usage: python tools/sync_readme.py [--check]
  --check  exit 1 if README.md differs from what index.ipynb gives, without writing it.
"""
import argparse, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]


def readme_text(nb_path: Path) -> str:
    "Markdown of the notebook: hidden cells and nbdev directives dropped, links to sibling notebooks pointed into nbs/."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        lines = c.source.splitlines()
        if c.cell_type == 'code' and any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
        if c.cell_type == 'code':
            c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|'))
        cells.append(c)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_output_prompt=True, exclude_input_prompt=True).from_notebook_node(nb)
    header = '<!-- Generated from nbs/index.ipynb by tools/sync_readme.py: edit the notebook, not this file. -->\n\n'
    body = re.sub(r'\]\((\w+\.ipynb)', r'](nbs/\1', body)
    body = re.sub(r'\]\((images/)', r'](nbs/\1', body)   # figures live in nbs/images
    return header + body.strip() + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='fail if README.md is out of date instead of writing it')
    args = ap.parse_args()
    want, readme = readme_text(ROOT / 'nbs' / 'index.ipynb'), ROOT / 'README.md'
    if args.check:
        if readme.read_text() != want:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/sync_readme.py`.')
        return
    readme.write_text(want)


if __name__ == '__main__':
    main()

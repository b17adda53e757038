"""Build the docs site offline from the notebooks (Quarto, and so `nbdev-docs`, cannot be installed here).

    python tools/build_docs.py --out _site

1. nbdev's own processors (`nbdev.serve.proc_nbs`, the ones `nbdev-docs` uses): show_doc signatures with
   parameter comments, hidden cells dropped, directives removed, backtick doc links, frontmatter;
2. nbconvert turns each processed notebook, outputs included (plots, tables), into Markdown;
3. mkdocs-material builds the site, in the order of `nbs/sidebar.yml`, with equations typeset by KaTeX
   (from the npm package `katex`, copied into the site: no CDN) and no web fonts.
"""
import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
KATEX_VERSION = "0.16.22"
KATEX_INIT = """document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {delimiters: [
    {left: "\\\\[", right: "\\\\]", display: true}, {left: "\\\\(", right: "\\\\)", display: false}], throwOnError: false});
});
"""


def pages() -> list[str]:
    "Notebook names in the order of nbs/sidebar.yml."
    side = yaml.safe_load((ROOT / "nbs" / "sidebar.yml").read_text())
    return side["website"]["sidebar"]["contents"]


def process_notebooks() -> Path:
    "Run nbdev's doc processors into _proc/ and return it."
    from nbdev.serve import proc_nbs
    proc_nbs(str(ROOT / "nbs"), n_workers=0, force=True)
    return ROOT / "_proc"


def _frontmatter(nb) -> tuple[str, str]:
    "(title, description) from nbdev's frontmatter raw cell, removing that cell."
    title = desc = ""
    if nb.cells and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("---"):
        fm = yaml.safe_load(nb.cells[0].source.strip().strip("-")) or {}
        title, desc = str(fm.get("title", "")), str(fm.get("description", ""))
        nb.cells = nb.cells[1:]
    return title, desc


_CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}
_DIRECTIVE = re.compile(r"^#\|\s*([\w-]+)\s*:?\s*(.*)$")


def _normalise(nb):
    "Drop nbdev's extra cell keys, strip the remaining (Quarto) directives, honour `echo: false`."
    for c in nb.cells:
        for k in list(c.keys()):
            if k not in _CELL_KEYS: del c[k]
        c.metadata.pop("execution", None)          # nbdev's timing records do not validate
        if c.cell_type != "code": continue
        lines = c.source.splitlines()
        directives = {m.group(1): m.group(2).strip() for l in lines if (m := _DIRECTIVE.match(l))}
        c.source = "\n".join(l for l in lines if not _DIRECTIVE.match(l)).strip("\n")
        if directives.get("echo", "").lower() == "false" or not c.source:
            c.metadata.setdefault("tags", []).append("remove_input")
    return nb


def to_markdown(src: Path, docs: Path, next_page: str | None) -> str:
    "Write docs/<name>.md (+ its images) from a processed notebook; returns the page title."
    nb = _normalise(nbformat.reads(src.read_text(), as_version=4))
    title, desc = _frontmatter(nb)
    stem = src.stem
    exporter = MarkdownExporter()
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), enabled=True)
    body, res = exporter.from_notebook_node(nb, resources={"output_files_dir": f"{stem}_files"})
    for name, data in res.get("outputs", {}).items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_bytes(data)
    body = re.sub(r"\]\(([\w.-]+)\.ipynb(#[^)]*)?\)", r"](\1.md\2)", body)          # notebook links -> pages
    head = (f"# {title}\n\n" if title else "") + (f"> {desc}\n\n" if desc else "")
    tail = f"\n\n---\n\nNext: [{next_page}]({next_page}.md)\n" if next_page else ""
    (docs / f"{stem}.md").write_text(head + body + tail)
    return title or stem


def katex_assets(dest: Path, cache: Path):
    "Copy KaTeX's dist (js, css, fonts, auto-render) into dest, installing the npm package once into `cache`."
    dist = cache / "node_modules" / "katex" / "dist"
    if not (dist / "katex.min.js").exists():
        cache.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), f"katex@{KATEX_VERSION}"],
                           capture_output=True, text=True)
        if r.returncode: sys.exit(f"npm install katex failed (needs node/npm and the npm registry): {r.stderr[-1000:]}")
    shutil.copytree(dist, dest, dirs_exist_ok=True)
    (dest / "katex-init.js").write_text(KATEX_INIT)
    (dest / "etpo.css").write_text(".katex-display { overflow-x: auto; overflow-y: hidden; padding: 0.2em 0; }\n")


def build(out: Path, work: Path):
    proc = process_notebooks()
    docs = work / "docs"
    shutil.rmtree(docs, ignore_errors=True); docs.mkdir(parents=True)
    names = [p.removesuffix(".ipynb") for p in pages()]
    nav = []
    for i, name in enumerate(names):
        nxt = names[i + 1] if i + 1 < len(names) else None
        title = to_markdown(proc / f"{name}.ipynb", docs, nxt)
        nav.append({("Home" if name == "index" else title): f"{name}.md"})
    if (ROOT / "nbs" / "images").is_dir(): shutil.copytree(ROOT / "nbs" / "images", docs / "images")   # figures the pages link to
    katex_assets(docs / "assets" / "katex", ROOT / ".cache" / "npm")
    cfg = dict(
        site_name="etpo", site_description="Entropy-Regularized Token-level Policy Optimization, as a literate library",
        use_directory_urls=False, docs_dir=str(docs), site_dir=str(out.resolve()), nav=nav,
        theme=dict(name="material", font=False, features=["navigation.footer", "content.code.copy"]),
        markdown_extensions=["tables", "admonition", "attr_list", "md_in_html", "toc", {"pymdownx.arithmatex": {"generic": True}},
                             "pymdownx.superfences", {"pymdownx.highlight": {"use_pygments": True}}],
        extra_css=["assets/katex/katex.min.css", "assets/katex/etpo.css"],
        extra_javascript=["assets/katex/katex.min.js", "assets/katex/contrib/auto-render.min.js", "assets/katex/katex-init.js"],
    )
    (work / "mkdocs.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--clean", "-q", "-f", str(work / "mkdocs.yml")], capture_output=True, text=True)
    if r.returncode: sys.exit(f"mkdocs build failed:\n{r.stdout}\n{r.stderr}")
    print(f"built {len(names)} pages into {out.resolve()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="_site", help="output folder for the static site")
    ap.add_argument("--work", default="_build_docs", help="scratch folder (mkdocs.yml and Markdown sources)")
    args = ap.parse_args()
    build(Path(args.out), (ROOT / args.work))


if __name__ == "__main__":
    main()

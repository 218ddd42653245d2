"""Strip what running a notebook leaves in it, before committing (see README.md here).

    python notebooks/strip_outputs.py                 # every notebooks/*.ipynb, in place
    python notebooks/strip_outputs.py PATH.ipynb ...  # only these
    python notebooks/strip_outputs.py --check         # exit 1 if a notebook would change

For every cell: no outputs, no execution count, no metadata but its tags (Jupyter's and
nbclient's execution timings, collapsed/scrolled flags go).  The notebook's metadata
goes back to the plain Python 3 kernel (the kernel's language_info details, widget
state go).  Cell ids and sources are kept as they are.  The file is written as Jupyter
writes it (nbformat: one-space indent, sorted keys, a final newline), so a notebook
saved from Jupyter and stripped is byte-identical to the committed one when nothing
else changed.  tests/test_notebooks.py rejects a notebook this script would change.

`jupyter nbconvert --clear-output` alone is not enough: it leaves the execution timings
and the kernel's language_info.
"""
import copy
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent

#: the notebook-level metadata of a committed notebook
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def strip(nb):
    """The notebook (an nbformat v4 node) without outputs, execution counts, run-time
    metadata; a new object, nb is left as it is."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": list(tags)} if tags else {})
    nb.metadata = nbformat.from_dict(copy.deepcopy(NOTEBOOK_METADATA))
    return nb


def stripped_text(text):
    """The text of the notebook file `text`, stripped."""
    return nbformat.writes(strip(nbformat.reads(text, as_version=4))) + "\n"


def main(argv):
    check = "--check" in argv
    paths = [pathlib.Path(a) for a in argv if a != "--check"] or sorted(HERE.glob("*.ipynb"))
    changed = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = stripped_text(text)
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
                print(f"stripped {path}")
    if check and changed:
        print("not stripped (run python notebooks/strip_outputs.py): " + ", ".join(str(p) for p in changed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``cnnzoo serve``: a local web application where students watch LeNet-5 (LeCun et al., 1998) think.

Pages: **Draw** (a digit's path through C1, S2, C3, S4, C5, F6 and the RBF output, with saliency or Grad-CAM
overlays), **Anatomy** (the per-layer table of :func:`cnnzoo.analysis.profile` with receptive fields and the
accuracy / compute chart), **Photo** (top-5 ImageNet classes and Grad-CAM of a pretrained model). The records
the pages draw come from :mod:`cnnzoo.serve.core` (plain Python, usable without a server); the web layer is
:mod:`cnnzoo.serve.app` (FastAPI on Starlette, served by uvicorn; install with ``pip install -e ".[serve]"``
in the clone).

>>> from cnnzoo.serve.core import load_draw_model, draw_record
>>> rec = draw_record(load_draw_model("runs/lenet5-digits/best.pt"), open("digit.png", "rb").read())
>>> [layer["name"] for layer in rec["layers"]]
['c1', 's2', 'c3', 's4', 'c5', 'f6', 'output']
"""

"""Test helpers, in one place (never collected as tests).

* :mod:`tests.support.oracle` — Smoothie written straight from the paper's loops.
* :mod:`tests.support.planted` — synthetic pools with planted structure.
* :mod:`tests.support.alpaca` — a tiny AlpacaEval-layout results folder.
* :mod:`tests.support.langchain` — scripted LangChain candidates.
* :mod:`tests.support.llamaindex` — scripted LlamaIndex engines, retrievers and LLMs.

The framework helpers import their framework; the others import only numpy and
``smoothie_core``, so core tests never import LangChain or LlamaIndex.
"""

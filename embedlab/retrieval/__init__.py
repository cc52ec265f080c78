"""Retrieval: does a model find the right document for a query, against BM25 and a cross-encoder re-ranker.

``data`` reads a BEIR folder (or zip, or two-column pairs) and builds the bundled set from the STS dev split;
``systems`` ranks the corpus for every query (BM25, any scorer with vectors, a re-ranker with a pair score);
``metrics`` measures the rankings with ir-measures; ``paired`` tests the difference between two systems;
``evaluation`` runs several systems over one data set for the command line and the page; ``hardneg`` mines hard
negatives from a set's corpus for MNRL training.
"""

"""Batches of similar-length examples, in a shuffled order: less padding per training step.

A batch is padded to its longest text. A random batch of STS train sentences pads to its one long news sentence;
grouping by length cuts those wasted positions. Measured on SimCSE over 2,000 STS train sentences (float32): the
epoch took 36 s instead of 62 s, with STS Spearman within noise (seeds 0-2).

The class is written to stand alone (torch and sentence-transformers only): the Train page's Python script copies
its source verbatim (``embedlab.training.script``), so the script trains exactly as the app does.
"""

from __future__ import annotations

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """Shuffled batches of similar-length examples (the idea of transformers' ``group_by_length``).

    Each epoch, seeded by ``seed + epoch``: shuffle the examples, cut them into windows of ``window_batches``
    batches, sort each window by length (characters over the text columns), cut it into batches, shuffle the
    batches. Every window but the last holds whole batches, so there are as many batches as without grouping.
    """

    window_batches = 50

    def __init__(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        skip = {*(valid_label_columns or ()), "dataset_name"}
        texts = [list(dataset[name]) for name in dataset.column_names if name not in skip]
        self.lengths = [sum(len(str(column[row])) for column in texts) for row in range(len(dataset))]

    def __iter__(self):
        generator = torch.Generator().manual_seed(int(self.seed) + int(self.epoch))
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        window = self.batch_size * self.window_batches
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [batch for batch in batches if len(batch) == self.batch_size]
        for index in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[index]

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

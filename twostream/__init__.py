"""twostream: two-stream ConvNets for action recognition (Simonyan & Zisserman, NIPS 2014).

The library behind the DVC stages in stages/: data and splits, frames, flow, models, training,
evaluation, fusion and reporting. Every module is usable without DVC, files or a GPU.
"""

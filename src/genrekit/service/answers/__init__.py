"""Making and keeping answers: classifying on the worker pool, the work that follows an answer
(the whole-song timeline, the visuals, explanations), and reading stored answers back (their
audio in byte ranges, genre counts, the map).
"""

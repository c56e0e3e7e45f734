"""Making and keeping answers: classifying submitted audio, explaining a stored result, serving
its audio back in byte ranges, and the discovery views (genre counts, the map).
"""

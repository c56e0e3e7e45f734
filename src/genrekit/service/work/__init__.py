"""Work off the event loop: the bounded worker pool and the background jobs that follow an
answer (the whole-song timeline, the waveform and spectrogram visuals).

Below ``state.py``, which holds them; nothing here reads the app's state.
"""

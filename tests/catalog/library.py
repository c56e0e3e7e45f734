"""A generated library for the catalog tests: mixed formats, nested folders, symlinks (one a
loop, one broken), hidden and system files, and broken audio files."""

from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf

from tests.audio.signals import run_ffmpeg
from tests.predict.test_classifier import TINY_SR, music_like

# relative path -> how it is made; the audio ones hold music_like() at TINY_SR
SOUNDFILE_TRACKS = {
    "a.wav": ("WAV", "PCM_16"),
    "Artist/Album/b.flac": ("FLAC", "PCM_16"),
    "Artist/Album/c.ogg": ("OGG", "VORBIS"),
    "Artist/Other/d.opus": ("OGG", "OPUS"),
}
FFMPEG_TRACKS = {
    "Various/e.mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "Various/f.m4a": ["-c:a", "aac", "-b:a", "64k"],
}
BROKEN_TRACKS = ("Various/broken.mp3", "Various/empty.flac")
AUDIO_TRACKS = tuple(SOUNDFILE_TRACKS) + tuple(FFMPEG_TRACKS)


def make_library(root: Path, *, duration_s: float = 2.5) -> Path:
    """Write the library under ``root`` and return ``root``."""
    for index, (rel, (fmt, subtype)) in enumerate(SOUNDFILE_TRACKS.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rate = 48000 if subtype == "OPUS" else TINY_SR
        signal = music_like(duration_s, sr=rate, seed=index)
        sf.write(path, signal, rate, format=fmt, subtype=subtype)
    source = root / "a.wav"
    for rel, codec in FFMPEG_TRACKS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        run_ffmpeg("-i", str(source), "-ar", "22050", *codec, str(path))
    (root / "Various" / "broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 64)
    (root / "Various" / "empty.flac").write_bytes(b"")
    (root / ".hidden").mkdir()
    sf.write(root / ".hidden" / "secret.wav", music_like(1.0, seed=9), TINY_SR)
    (root / "Artist" / "._b.flac").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (root / "Artist" / "Thumbs.db").write_bytes(b"thumbs")
    (root / "notes.txt").write_text("not audio")
    os.symlink(root / "Artist", root / "Various" / "loop-to-artist")  # a second way into Artist
    os.symlink(root, root / "Artist" / "Album" / "loop-to-root")  # a cycle
    os.symlink(root / "missing.wav", root / "dangling.wav")  # broken link
    return root

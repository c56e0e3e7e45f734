"""Bundle + waveform -> Prediction (segments + whole song).

The one result schema shared by the Python API, the CLI, the REST API and batch jobs
(:class:`Prediction` and its parts), and :class:`Classifier`, the whole-song inference
that produces it.

How a song is classified
------------------------
1. Decode to mono float32 at the model's ``sample_rate`` (:func:`genrekit.audio.iter_audio_blocks`),
   in blocks of :data:`STREAM_BLOCK_S` seconds, so memory stays bounded for a 2-hour mix.
2. Cut windows of the model's ``window_s`` every ``hop_s`` seconds (default: ``hop_s = window_s``,
   no overlap). Where the last regular window stops short of the end, one more window is
   aligned to the end of the audio (it overlaps its predecessor), so the windows cover the
   whole input and no window is mostly padding. Only an input shorter than one window is
   zero-padded (and carries the warning :data:`WARNING_SHORT`).
3. Run the model on batches of at most ``batch_size`` windows (a background thread decodes
   the next block meanwhile). A model offering ``predict_all_windows(windows) ->
   (probs, {backbone: tag_probs})`` gives genres and tags in one pass; otherwise
   ``predict_proba_windows`` (and ``predict_tags_windows`` when tags are asked for) are used.
4. Aggregate window probabilities into the track's: the (weighted) mean of the windows'
   probabilities (``aggregation="mean"``) or their renormalised geometric mean
   (``"log_mean"``). Windows quieter than :data:`SILENCE_DBFS` (intros, gaps) do not vote
   unless every window is that quiet.
5. The timeline has one :class:`Segment` per window (its span, top genre and score); the UI
   may merge runs. ``shares`` gives each genre's share of the (voting) windows it tops, so a
   headline can be set against what most of the timeline says.
6. Tags: where the model has a tagging backbone, the windows' tag probabilities are averaged
   (same windows as the genres) and the backbones' vocabularies are merged into one list:
   names lower-cased, a tag in both (``rock``, ``pop``, ``metal``, ...) keeps its higher score.
7. Checks: an input whose RMS is below :data:`SILENCE_DBFS` gets :data:`WARNING_SILENT`; an
   input that looks like noise, a steady tone or speech rather than music gets
   :data:`WARNING_NOT_MUSIC` (see :func:`music_evidence`); an input shorter than one window
   gets :data:`WARNING_SHORT`. Genres are still returned, but they are not to be trusted
   then (the silence check replaces the music check: a near-silent input only carries
   :data:`WARNING_SILENT`).

Where each step lives: :mod:`~genrekit.predict.loading` (bundle -> model),
:mod:`~genrekit.predict.excerpts` (steps 1-2, the excerpt stream), :mod:`~genrekit.predict.inference`
(step 3, the model step) and :mod:`~genrekit.predict.aggregate` (steps 4-7, the song's answer);
:class:`Classifier` (:mod:`~genrekit.predict.classifier`) runs them in that order.

Speed: :meth:`Classifier.load` runs ``musicnn_head`` models with ONNX Runtime by default
(:mod:`genrekit.models.onnx_export`; ``runtime="torch"`` for PyTorch). ``max_windows=N``
(the bundle's card may set a default, the default model's is 4) trades the full timeline
for speed: a song that would need more than N windows is classified from N windows, one
centred in each of N equal parts of the song (:func:`spread_starts`), and only those
excerpts are decoded where the format allows seeking (:class:`genrekit.audio.ExcerptReader`:
WAV, FLAC, Ogg, MP3, AIFF, ...; the silence check then measures the excerpts). Other formats
(M4A/AAC, WebM, ...), arrays, and files whose excerpts fail to decode go through the whole
stream, and the slicer cuts only the planned windows from it. The timeline has gaps.
``max_windows=0`` classifies every window.

The whole song's answer in steps: :meth:`Classifier.classify_windows` classifies the windows
of one part of a waveform, :meth:`WindowResults.extend` joins the parts and
:meth:`Classifier.summarize` turns them into the prediction ``max_windows=0`` gives (the
service's background timeline works this way, one pool job per part).

Errors: a decode failure, an empty input or a too-long one raises the typed error of
:mod:`genrekit.audio` (``AudioDecodeError``, ``NotAudioError``, ``EmptyAudioError``,
``AudioTooLongError``, ...); :meth:`Classifier.iter_predict` yields them in place instead.
"""

from genrekit.predict.aggregate import AGGREGATIONS, WindowResults, aggregate_probabilities, merge_tag_scores, window_shares
from genrekit.predict.checks import (
    MUSIC_EVIDENCE_NAMES,
    SILENCE_DBFS,
    WARNING_NOT_MUSIC,
    WARNING_SHORT,
    WARNING_SILENT,
    is_music,
    music_evidence,
    rms_dbfs,
)
from genrekit.predict.classifier import DEFAULT_BATCH_SIZE, DEFAULT_TOP_K, Classifier
from genrekit.predict.excerpts import STREAM_BLOCK_S
from genrekit.predict.loading import RUNTIMES
from genrekit.predict.schema import (
    UNCERTAINTY_LEVELS,
    AudioSource,
    GenreScore,
    ModelInfo,
    Prediction,
    Reliability,
    Segment,
    TagGroup,
    TagScore,
    Uncertainty,
)
from genrekit.predict.uncertainty import DEFAULT_THRESHOLDS, assess_uncertainty, uncertainty_thresholds
from genrekit.audio.windows import _WindowSlicer, slice_windows, spread_starts

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TOP_K",
    "MUSIC_EVIDENCE_NAMES",
    "RUNTIMES",
    "SILENCE_DBFS",
    "STREAM_BLOCK_S",
    "UNCERTAINTY_LEVELS",
    "WARNING_NOT_MUSIC",
    "WARNING_SHORT",
    "WARNING_SILENT",
    "AudioSource",
    "Classifier",
    "GenreScore",
    "ModelInfo",
    "Prediction",
    "Reliability",
    "Segment",
    "TagGroup",
    "TagScore",
    "Uncertainty",
    "WindowResults",
    "aggregate_probabilities",
    "assess_uncertainty",
    "is_music",
    "merge_tag_scores",
    "music_evidence",
    "rms_dbfs",
    "slice_windows",
    "spread_starts",
    "uncertainty_thresholds",
    "window_shares",
]

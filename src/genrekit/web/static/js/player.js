// Playback through one <audio> element, with a position that also works without audio
// (a permalink whose audio the server did not keep still has a cursor to move).

export class Player {
  /**
   * @param {HTMLAudioElement} audio
   * @param {{onTime: (s: number) => void, onState: (playing: boolean) => void,
   *          onAvailability: (available: boolean, reason: string) => void}} callbacks
   */
  constructor(audio, { onTime, onState, onAvailability }) {
    this.audio = audio;
    this.onTime = onTime;
    this.onState = onState;
    this.onAvailability = onAvailability;
    this.positionS = 0;
    this.durationS = 0;
    this.available = false;
    this.pendingSeekS = null;
    this.pendingPlay = false;
    this.frame = 0;
    this.objectUrl = null;
    this.unavailableReason = "";

    audio.addEventListener("loadedmetadata", () => {
      this.setAvailable(true, "");
      if (this.pendingSeekS !== null) {
        audio.currentTime = this.pendingSeekS;
        this.pendingSeekS = null;
      }
      if (this.pendingPlay) {
        this.pendingPlay = false;
        this.play();
      }
    });
    audio.addEventListener("error", () => {
      if (!audio.getAttribute("src")) return;
      this.setAvailable(false, this.unavailableReason || "This browser cannot play this file.");
    });
    audio.addEventListener("play", () => {
      this.onState(true);
      this.tick();
    });
    audio.addEventListener("pause", () => this.onState(false));
    audio.addEventListener("ended", () => this.onState(false));
    audio.addEventListener("seeked", () => this.report(audio.currentTime));
    audio.addEventListener("timeupdate", () => this.report(audio.currentTime));
  }

  /**
   * Start over with a clip: `source` is a File/Blob (played from an object URL), a URL, or
   * null (no audio: only the cursor moves).
   * @param {File|Blob|string|null} source
   * @param {number} durationS
   * @param {string} unavailableReason shown when `source` cannot be loaded
   */
  load(source, durationS, unavailableReason = "") {
    this.stop();
    this.durationS = durationS || 0;
    this.positionS = 0;
    this.pendingSeekS = null;
    this.pendingPlay = false;
    this.unavailableReason = unavailableReason;
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.setAvailable(false, "");
    if (source instanceof Blob) {
      this.objectUrl = URL.createObjectURL(source);
      this.audio.src = this.objectUrl;
    } else if (typeof source === "string" && source) {
      this.audio.src = source;
    } else {
      this.audio.removeAttribute("src");
      this.audio.load();
      if (unavailableReason) this.setAvailable(false, unavailableReason);
    }
    this.report(0);
  }

  setAvailable(available, reason) {
    this.available = available;
    this.onAvailability(available, reason);
  }

  /** Current position (seconds). */
  get time() {
    return this.positionS;
  }

  get playing() {
    return this.available && !this.audio.paused && !this.audio.ended;
  }

  /**
   * Move to `seconds`; with `play`, start playing from there (when audio is available).
   * @param {number} seconds
   * @param {{play?: boolean}} options
   */
  seek(seconds, { play = false } = {}) {
    const target = Math.min(Math.max(0, seconds), this.durationS || seconds);
    this.positionS = target;
    if (this.audio.getAttribute("src")) {
      if (this.audio.readyState >= HTMLMediaElement.HAVE_METADATA) {
        this.audio.currentTime = target;
      } else {
        this.pendingSeekS = target;
        this.pendingPlay = this.pendingPlay || play;
      }
    }
    this.onTime(target);
    if (play && this.available) this.play();
  }

  play() {
    if (!this.available) return;
    if (this.audio.ended || (this.durationS && this.positionS >= this.durationS - 0.05)) this.audio.currentTime = 0;
    const started = this.audio.play();
    if (started && typeof started.catch === "function") started.catch(() => this.onState(false));
  }

  toggle() {
    if (this.playing) this.audio.pause();
    else this.play();
  }

  stop() {
    cancelAnimationFrame(this.frame);
    if (!this.audio.paused) this.audio.pause();
  }

  report(seconds) {
    if (this.pendingSeekS !== null) return;
    this.positionS = seconds;
    this.onTime(seconds);
  }

  tick() {
    cancelAnimationFrame(this.frame);
    const step = () => {
      if (this.audio.paused) return;
      this.report(this.audio.currentTime);
      this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }
}

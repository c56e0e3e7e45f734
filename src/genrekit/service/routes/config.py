"""``/config``: the limits and storage policy of this server, from its settings."""

from __future__ import annotations

from fastapi import APIRouter

from genrekit.service.config import MEGABYTE
from genrekit.service.deps import SettingsDep
from genrekit.service.schemas import ConfigPublic

router = APIRouter(prefix="/config", tags=["config"])


@router.get("", response_model=ConfigPublic, summary="What this server accepts and keeps")
def get_config(settings: SettingsDep) -> ConfigPublic:
    return ConfigPublic(
        keep_audio=settings.keeps_audio,
        max_upload_mb=settings.max_upload_mb,
        max_upload_bytes=settings.max_upload_bytes,
        max_duration_s=settings.max_duration_s,
        audio_max_file_bytes=int(settings.audio_max_file_mb * MEGABYTE),
        audio_max_total_bytes=int(settings.audio_max_total_mb * MEGABYTE),
        audio_max_age_days=settings.audio_max_age_days,
    )

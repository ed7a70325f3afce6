"""File uploaders with this user's size limit: the widget's own limit, or a shared app's smaller per-user one
(``max_upload_mb`` in ``[geocsp]``). The limit is checked again on the server, since the browser's check can be
bypassed; a larger file is refused with a message and never read."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from geovis.access_gate import access_settings
from geovis.markdown_text import escape_markdown


def upload_limit_mb(widget_limit_mb: int) -> int:
    """The per-file limit in MB: ``widget_limit_mb``, or a shared app's per-user limit when smaller."""
    user_limit = access_settings().max_upload_mb
    return min(widget_limit_mb, user_limit) if user_limit else widget_limit_mb


def limited_file_uploader(container, label: str, *, limit_mb: int, key: str, **options) -> UploadedFile | None:
    """``container.file_uploader(label, …)`` under :func:`upload_limit_mb`; the upload, or None (with a message
    in ``container`` when it is over the limit)."""
    limit = upload_limit_mb(limit_mb)
    upload = container.file_uploader(label, key=key, max_upload_size=limit, **options)
    if upload is not None and upload.size > limit * 2**20:
        container.error(f"**{escape_markdown(upload.name)}** is {upload.size:,} bytes, larger than the {limit} MiB "
                        f"({limit * 2**20:,} bytes) this app takes per file. Upload a smaller file.")
        return None
    return upload

"""File downloads over ASGI, read in chunks off the event loop.

Django serves a FileResponse's synchronous file to an ASGI client by reading all of
it into memory in a thread, with a warning, on every request. These helpers give
such responses an asynchronous iterator instead.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse
from whitenoise.middleware import WhiteNoiseMiddleware

CHUNK_SIZE = 64 * 1024
# Uploads are shown, never run: only raster images open in the page.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def _chunks(file):
    if file is None:  # a 304 or an answer to HEAD: no body
        return
    read = sync_to_async(file.read, thread_sensitive=False)
    while chunk := await read(CHUNK_SIZE):
        yield chunk


def stream_over_asgi(response: FileResponse, request) -> FileResponse:
    """Make `response` read its file chunk by chunk when `request` came over ASGI.

    The file stays among the response's resources, so it is closed with it.
    """
    if isinstance(request, ASGIRequest):
        response.streaming_content = _chunks(response.file_to_stream)
    return response


def attachment_response(attachment, request) -> FileResponse:
    """An upload as a download read in chunks; raster images open inline."""
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        filename=attachment.name,
        as_attachment=attachment.content_type not in INLINE_TYPES,
    )
    return stream_over_asgi(response, request)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, streaming its files asynchronously to ASGI clients."""

    @staticmethod
    def serve(static_file, request):
        return stream_over_asgi(WhiteNoiseMiddleware.serve(static_file, request), request)

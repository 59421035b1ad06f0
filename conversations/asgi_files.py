"""File downloads over ASGI, read in chunks off the event loop.

Django serves a FileResponse's synchronous file to an ASGI client by reading all of
it into memory in a thread, with a warning, on every request. These helpers give
such responses an asynchronous iterator instead.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
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
    """WhiteNoise, streaming its files asynchronously to ASGI clients.

    Async-capable, unlike WhiteNoise's own: a synchronous middleware makes Django run the
    whole chain around it through threads, twice more per request (API calls and streams
    included) than the view itself needs.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        # Only paths under STATIC_URL can be static files (no WHITENOISE_ROOT here); those
        # are looked up and opened on a thread.
        if request.path_info.startswith(self.static_prefix):
            response = await sync_to_async(self._static_response, thread_sensitive=False)(request)
            if response is not None:
                return response
        return await self.get_response(request)

    def _static_response(self, request):
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        return None if static_file is None else self.serve(static_file, request)

    @staticmethod
    def serve(static_file, request):
        return stream_over_asgi(WhiteNoiseMiddleware.serve(static_file, request), request)

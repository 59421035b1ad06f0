"""`Authorization: Bearer <key>`: one of the user's API keys, or their REST API token."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token

from .. import selectors, services
from ..services.api_keys import api_key_hash


class BearerKeyAuthentication(BaseAuthentication):
    """An API key (stored hashed, its use noted) or a DRF token, after `Bearer`."""

    keyword = "bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <key>'."
            )
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        api_key = selectors.api_key_active(hashed_secret=api_key_hash(secret))
        if api_key is not None and api_key.owner.is_active:
            services.api_key_touch(api_key=api_key)
            return api_key.owner, api_key
        token = Token.objects.select_related("user").filter(key=secret).first()
        if token is not None and token.user.is_active:
            return token.user, token
        raise exceptions.AuthenticationFailed("Incorrect API key provided.")

    def authenticate_header(self, request):
        # A 401 (not a 403) with the scheme the client should use.
        return "Bearer"

"""``python -m services.auth``: run the auth service until SIGTERM."""

from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.kernel.service import run_service

run_service(lambda: AuthService(AuthSettings()))

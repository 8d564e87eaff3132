"""``python -m services.binding``: run the binding service until SIGTERM."""

from services.binding.service import BindingService
from services.binding.settings import BindingSettings
from services.kernel.service import run_service

run_service(lambda: BindingService(BindingSettings()))

"""``python -m services.provision``: run the provision service until SIGTERM."""

from services.kernel.service import run_service
from services.provision.service import ProvisionService
from services.provision.settings import ProvisionSettings

run_service(lambda: ProvisionService(ProvisionSettings()))

"""``python -m services.admin``: run the admin service until SIGTERM."""

from services.admin.service import AdminService
from services.admin.settings import AdminSettings
from services.kernel.service import run_service

run_service(lambda: AdminService(AdminSettings()))

"""``python -m services.menu``: run the voice menu until SIGTERM."""

from services.kernel.service import run_service
from services.menu.service import MenuService
from services.menu.settings import MenuSettings

run_service(lambda: MenuService(MenuSettings()))

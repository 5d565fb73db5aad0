"""The module `celery -A workers.app` loads."""
from config.settings import Settings
from workers.celery_app import create_celery

celery = create_celery(Settings.from_env())

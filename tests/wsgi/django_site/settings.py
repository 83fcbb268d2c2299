"""A minimal Django site with the admin, for static_map's and the ASGI tests (asgi.py): `collectstatic` gathers the
admin's CSS and JS into DJANGO_STATIC_ROOT; with DJANGO_MANIFEST=1 the names carry a content
hash (ManifestStaticFilesStorage), as in production. DJANGO_WHITENOISE=1 serves them with
WhiteNoise instead (bench/static_map.py's anchor)."""
import os

SECRET_KEY = 'corral-tests-only'
DEBUG = False
ALLOWED_HOSTS = ['*']
INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
]
MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]
if os.environ.get('DJANGO_WHITENOISE') == '1':   # bench/static_map.py's anchor
    MIDDLEWARE.insert(0, 'whitenoise.middleware.WhiteNoiseMiddleware')
ROOT_URLCONF = 'django_site.urls'
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'APP_DIRS': True,
    'OPTIONS': {'context_processors': [
        'django.template.context_processors.request',
        'django.contrib.auth.context_processors.auth',
        'django.contrib.messages.context_processors.messages',
    ]},
}]
# DJANGO_DATABASE: a sqlite file (migrated, with a user) for the admin login tests.
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.environ.get('DJANGO_DATABASE', ':memory:')}}
# Tests only: a login costs no second of PBKDF2 (1,000,000 rounds) on a busy test machine.
PASSWORD_HASHERS = ['django.contrib.auth.hashers.MD5PasswordHasher']
STATIC_URL = '/static/'
STATIC_ROOT = os.environ.get('DJANGO_STATIC_ROOT', os.path.join(os.path.dirname(__file__), 'collected'))
STORAGES = {
    'default': {'BACKEND': 'django.core.files.storage.FileSystemStorage'},
    'staticfiles': {'BACKEND': 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'
                    if os.environ.get('DJANGO_MANIFEST') == '1'
                    else 'django.contrib.staticfiles.storage.StaticFilesStorage'},
}
USE_TZ = True

import asyncio

from django.contrib import admin
from django.http import JsonResponse
from django.urls import path


async def slept(request):
    """An async view (served as a coroutine under ASGI)."""
    await asyncio.sleep(0.01)
    return JsonResponse({'async': True, 'path': request.path})


urlpatterns = [path('admin/', admin.site.urls), path('async/', slept)]

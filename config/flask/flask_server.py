"""The article's Flask app (flask_server.py), unchanged: corral serves it as gunicorn did."""
from flask import Flask

app = Flask(__name__)


@app.route('/')
def index():
    return 'Hello, World!'

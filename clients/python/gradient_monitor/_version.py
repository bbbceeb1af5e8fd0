__version__ = "0.1.0"
CLIENT = f"gradient-monitor-python/{__version__}"

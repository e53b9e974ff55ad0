__version__ = '2.0.0.dev0'
version_info = (2, 0, 0, 'dev0')

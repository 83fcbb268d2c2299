"""An app whose deploy is broken: importing it raises."""
raise ImportError('this deploy is broken on purpose')

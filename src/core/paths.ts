// Where dr's own files are: the checkout (or installed package) root, found from this module's location.
import path from 'node:path'

export const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')

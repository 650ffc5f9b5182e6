/** The product version, from package.json, for user agents and `--version`. */
import packageJson from '../../package.json' with { type: 'json' }

export const VERSION: string = packageJson.version

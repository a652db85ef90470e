import { libraryBuild } from '../../tsup.base.js';

export default libraryBuild(['src/index.ts', 'src/main.ts']);

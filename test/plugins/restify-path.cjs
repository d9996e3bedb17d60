'use strict';
// The restify ZoneMTA itself loads (12.0.0 under @zone-eu/zone-mta in realsuite/, which npm test installs): the
// tests load the very copy whose writeHead patch took ZoneMTA down, not one of their own.
const path = require('node:path');
module.exports = require.resolve('restify', { paths: [path.join(__dirname, '../../realsuite/node_modules/@zone-eu/zone-mta')] });

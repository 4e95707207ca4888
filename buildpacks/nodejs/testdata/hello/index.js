// nodejs_buildpack's sample app: a web server on $PORT, no dependencies.
const http = require("http");
http
  .createServer((req, res) => res.end(`hello from node ${process.version}, NODE_ENV=${process.env.NODE_ENV}\n`))
  .listen(Number(process.env.PORT), "0.0.0.0");

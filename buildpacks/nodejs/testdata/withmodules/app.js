// Uses a dependency from the committed node_modules.
const http = require("http");
const greet = require("greet");
http.createServer((req, res) => res.end(greet("vcap") + "\n")).listen(Number(process.env.PORT), "0.0.0.0");

// A server.js alone: started with `node server.js`.
const http = require("http");
http.createServer((req, res) => res.end("hello from server.js\n")).listen(Number(process.env.PORT), "0.0.0.0");

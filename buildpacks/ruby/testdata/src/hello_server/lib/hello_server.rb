require "socket"

# HelloServer answers every HTTP request with a greeting.
module HelloServer
  def self.run(port, greeting)
    server = TCPServer.new("0.0.0.0", port)
    $stdout.sync = true
    puts "hello_server listening on #{port}"
    loop do
      client = server.accept
      while (line = client.gets) && line != "\r\n"; end
      body = "#{greeting}\n"
      client.write "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
      client.close
    end
  end
end

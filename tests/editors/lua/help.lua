-- :help fuse_ls works from the committed doc/tags, and every |link| in the help resolves.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local ok, err = pcall(vim.cmd.help, 'fuse_ls')
  H.check(':help fuse_ls', ok and vim.fn.expand('%:t') == 'fuse_ls.txt', err or vim.fn.expand('%:t'))
  local doc = H.plugin .. '/doc/fuse_ls.txt'
  local text = table.concat(vim.fn.readfile(doc), '\n')
  local bad = {}
  local seen = {}
  -- |links| outside code blocks: a bar, a tag without spaces, a bar.
  for tag in text:gmatch('|([^|%s`]+)|') do
    if not seen[tag] then
      seen[tag] = true
      local okh = pcall(vim.cmd.help, tag)
      if not okh then
        table.insert(bad, tag)
      end
    end
  end
  H.report.data.links = vim.tbl_keys(seen)
  H.check('every |link| resolves', #bad == 0, bad)
  H.check('links were found', vim.tbl_count(seen) > 10, vim.tbl_count(seen))
end)

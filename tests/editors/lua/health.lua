-- :checkhealth fuse_ls. FUSE_TEST_HEALTH_CMD (JSON list) overrides the server command.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local cmd = os.getenv('FUSE_TEST_HEALTH_CMD')
  local opts = {}
  if cmd then
    opts.cmd = vim.json.decode(cmd)
  end
  local bad = os.getenv('FUSE_TEST_HEALTH_BAD_SETTINGS')
  if bad then
    opts.settings = { fuseLs = vim.json.decode(bad) }
  end
  H.setup(opts)
  vim.cmd('checkhealth fuse_ls')
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  H.report.data.health = lines
  H.check('health report rendered', #lines > 5, #lines)
end)

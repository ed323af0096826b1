-- :checkhealth fuse_ls. FUSE_TEST_HEALTH_CMD (JSON list) overrides the server command;
-- FUSE_TEST_HEALTH_SETTINGS (a JSON object) replaces top-level keys of settings.fuseLs;
-- FUSE_TEST_HEALTH_OPTS (a JSON object) adds setup() options (cmd_env, trusted, health);
-- FUSE_TEST_HEALTH_OPEN names a file to open (its client running) before the check.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local cmd = os.getenv('FUSE_TEST_HEALTH_CMD')
  local opts = { cmd = cmd and vim.json.decode(cmd) or H.server_cmd() }
  local fuse_settings = H.settings()
  local extra = os.getenv('FUSE_TEST_HEALTH_SETTINGS')
  for k, v in pairs(extra and vim.json.decode(extra) or {}) do
    fuse_settings[k] = v
  end
  opts.settings = { fuseLs = fuse_settings }
  local more = os.getenv('FUSE_TEST_HEALTH_OPTS')
  opts = vim.tbl_extend('force', opts, more and vim.json.decode(more) or {})
  local open = os.getenv('FUSE_TEST_HEALTH_OPEN')
  if open then
    -- Before setup(), as `nvim {file}` does.
    vim.cmd.edit(vim.fn.fnameescape(open))
  end
  require('fuse_ls').setup(opts)
  if open then
    H.open_path(open)
  end
  local started = vim.uv.hrtime()
  vim.cmd('checkhealth fuse_ls')
  H.report.data.health_ms = math.floor((vim.uv.hrtime() - started) / 1e6)
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  H.report.data.health = lines
  H.check('health report rendered', #lines > 5, #lines)
end)

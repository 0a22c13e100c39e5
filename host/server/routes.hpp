// The admin API's route groups; api_server.cpp installs them all.
#pragma once
#include "server/api_context.hpp"
#include "server/router.hpp"

namespace cronhost::server {

void add_job_routes(Router& router, const ApiContext& ctx);       // /api/jobs..., /api/schedule/preview
void add_run_routes(Router& router, const ApiContext& ctx);       // /api/runs..., /api/jobs/{name}/runs
void add_run_stream_routes(Router& router, const ApiContext& ctx);  // /api/runs/{id}/output/stream
void add_approval_routes(Router& router, const ApiContext& ctx);  // /api/approvals...
void add_status_routes(Router& router, const ApiContext& ctx);    // /health, /metrics, /api/whoami
void add_dashboard_routes(httplib::Server& server, const ApiContext& ctx);  // / and its files

}  // namespace cronhost::server

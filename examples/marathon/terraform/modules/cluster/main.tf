variable "environment" { type = string }
variable "subnet_ids" { type = list(string) }
variable "node_count" { type = number }

resource "aws_eks_cluster" "this" {
  name     = "platform-${var.environment}"
  role_arn = "arn:aws:iam::000000000000:role/platform-${var.environment}-cluster"
  vpc_config {
    subnet_ids = var.subnet_ids
  }
}

resource "aws_eks_node_group" "default" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "default"
  node_role_arn   = "arn:aws:iam::000000000000:role/platform-${var.environment}-nodes"
  subnet_ids      = var.subnet_ids
  scaling_config {
    desired_size = var.node_count
    min_size     = 1
    max_size     = var.node_count * 2
  }
}

output "cluster_name" {
  value = aws_eks_cluster.this.name
}
